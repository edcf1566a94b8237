//! Running `simple_switch_grpc` on pcap files.
//!
//! What BMv2 does in this mode (docs/targets.md, and `src/bm_sim/{options_parse,
//! switch,dev_mgr,pcap_file}.cpp` of p4lang/behavioral-model):
//!
//! - `--use-files N -i P@NAME` reads `NAME_in.pcap` and writes `NAME_out.pcap`
//!   for port `P` (a missing input file is a fatal error, so every port gets
//!   one, empty if it receives nothing). All inputs are merged in timestamp
//!   order, ties to the port added first: ports are given in ascending order.
//! - The reader thread starts when the first pipeline is committed
//!   (`SetForwardingPipelineConfig`) and then sleeps `N` seconds: that is the
//!   window in which every entity must be written ([`Bmv2::check_window`]).
//!   It does not pace frames by their timestamps: input faster than egress
//!   overflows BMv2's queues and frames are lost.
//! - Output records are flushed one by one, stamped with the send time, in a
//!   file with link type 0 and snaplen 0 ([`crate::pcap`]).
//! - BMv2 never exits on its own, and does not catch SIGTERM; the files are
//!   complete as soon as the outputs stop growing ([`Bmv2::wait_settled`]),
//!   after which we stop it (SIGTERM, then SIGKILL) and collect the outputs.
//!
//! The command line:
//!
//! ```text
//! simple_switch_grpc --use-files N --device-id D --log-file WORK/bmv2.log --log-level L --log-flush
//!     [--thrift-port T] -i P1@WORK/pP1 -i P2@WORK/pP2 ... --no-p4
//!     -- --grpc-server-addr 127.0.0.1:G
//! ```
//!
//! `G` and `T` are free loopback ports picked just before the start (a clash
//! with a port taken in between is retried); `--thrift-port` is passed only when
//! the binary knows it (BMv2 built with Thrift), so that parallel runs do not
//! fight over the default 9090. No `--cpu-port`: p4clone uses no packet-in/out,
//! and every `-i` port stays a data port. Standard output and error go to
//! `WORK/bmv2.out`; both it and the log are shown (their last lines) when BMv2
//! exits early.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Bmv2Error, Result};
use crate::pcap;

/// Log levels BMv2 accepts for `--log-level`.
pub const LOG_LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
/// Environment variable overriding the BMv2 log level (default `warn`).
pub const LOG_LEVEL_ENV: &str = "P4CLONE_BMV2_LOG_LEVEL";
/// Environment variable that keeps BMv2's work directory after a successful run.
pub const KEEP_ENV: &str = "P4CLONE_BMV2_KEEP";

/// How to start BMv2.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// `simple_switch_grpc`.
    pub binary: PathBuf,
    /// P4Runtime device id (`--device-id`).
    pub device_id: u64,
    /// Every port to open (`-i`), whether it receives frames or not.
    pub ports: BTreeSet<u16>,
    /// Input file per port (ports not listed receive nothing).
    pub inputs: BTreeMap<u16, PathBuf>,
    /// Working directory (created): the per-port files and BMv2's logs.
    pub work_dir: PathBuf,
    /// `--use-files` seconds: the window for programming the device.
    pub window_s: u32,
    /// `--log-level`.
    pub log_level: String,
    /// How long to wait for the P4Runtime server to accept connections.
    pub ready_timeout: Duration,
}

impl LaunchOptions {
    /// Options with the defaults: window 5 s, log level `$P4CLONE_BMV2_LOG_LEVEL`
    /// or `warn`, 30 s to come up.
    pub fn new(binary: PathBuf, device_id: u64, work_dir: PathBuf) -> LaunchOptions {
        let log_level = std::env::var(LOG_LEVEL_ENV).ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "warn".into());
        LaunchOptions {
            binary,
            device_id,
            ports: BTreeSet::new(),
            inputs: BTreeMap::new(),
            work_dir,
            window_s: 5,
            log_level,
            ready_timeout: Duration::from_secs(30),
        }
    }
}

/// What `--help` told us about a binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// It accepts `--thrift-port`.
    pub thrift: bool,
}

/// Runs `binary --help` (which prints and exits 0) and checks that it is a
/// `simple_switch_grpc` with file mode.
pub fn probe(binary: &Path) -> Result<Probe> {
    let mut child = Command::new(binary)
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Bmv2Error::Spawn { binary: binary.to_path_buf(), source })?;
    let mut out = String::new();
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Bmv2Error::Unsuitable {
                    binary: binary.to_path_buf(),
                    reason: "`--help` did not finish within 10 s".into(),
                });
            }
        }
    }
    out.push_str(&reader.join().unwrap_or_default());
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    if !out.contains("use-files") || !out.contains("grpc-server-addr") {
        return Err(Bmv2Error::Unsuitable {
            binary: binary.to_path_buf(),
            reason: "its --help mentions no --use-files / --grpc-server-addr: not a simple_switch_grpc with \
                     P4Runtime (BMv2 configured --with-pi)"
                .into(),
        });
    }
    Ok(Probe { thrift: out.contains("thrift-port") })
}

/// A free TCP port on the loopback address (free now; taken by whoever binds first).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Bmv2Error::io("cannot find a free loopback port", e))?;
    l.local_addr().map(|a| a.port()).map_err(|e| Bmv2Error::io("cannot find a free loopback port", e))
}

/// The file BMv2 reads for `port` (given `-i port@WORK/pPORT`).
pub fn input_file(work: &Path, port: u16) -> PathBuf {
    work.join(format!("p{port}_in.pcap"))
}

/// The file BMv2 writes for `port`.
pub fn output_file(work: &Path, port: u16) -> PathBuf {
    work.join(format!("p{port}_out.pcap"))
}

/// Where a collected port goes: `dir/port-<N>.pcap` (as the software target).
pub fn collected_path(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("port-{port}.pcap"))
}

/// The last `n` lines of a text file ("" if unreadable).
pub fn tail(path: &Path, n: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].iter().map(|l| format!("  | {l}")).collect::<Vec<_>>().join("\n")
}

/// One collected port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortOutput {
    /// The port.
    pub port: u16,
    /// Frames BMv2 sent on it.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Send time of the first and last frame, ns since the epoch.
    pub first_ts_ns: Option<u64>,
    /// See `first_ts_ns`.
    pub last_ts_ns: Option<u64>,
    /// `DIR/port-<N>.pcap` when it sent frames.
    pub path: Option<PathBuf>,
}

/// What [`Bmv2::wait_settled`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// From the start of processing until the outputs stopped growing (minus
    /// the quiet period).
    pub busy: Duration,
    /// Bytes in all output files.
    pub bytes: u64,
}

/// A running `simple_switch_grpc`. Dropping it kills the process.
#[derive(Debug)]
pub struct Bmv2 {
    child: Option<Child>,
    binary: PathBuf,
    address: SocketAddr,
    work: PathBuf,
    ports: Vec<u16>,
    frames_in: BTreeMap<u16, u64>,
    window_s: u32,
    argv: Vec<OsString>,
}

/// Errors of a start that are worth another try on other ports.
fn is_bind_clash(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("address already in use") || t.contains("failed to add port") || t.contains("bind")
}

impl Bmv2 {
    /// Prepares the work directory (one input file per port), starts BMv2 and
    /// waits until its P4Runtime server accepts connections. Call it from a
    /// thread that outlives the run (the main thread): on Linux BMv2 gets
    /// SIGTERM when the thread that started it ends.
    pub fn launch(opts: &LaunchOptions) -> Result<Bmv2> {
        if !LOG_LEVELS.contains(&opts.log_level.as_str()) {
            return Err(Bmv2Error::Unsuitable {
                binary: opts.binary.clone(),
                reason: format!("log level {:?} is not one of {}", opts.log_level, LOG_LEVELS.join(", ")),
            });
        }
        let probe = probe(&opts.binary)?;
        std::fs::create_dir_all(&opts.work_dir)
            .map_err(|e| Bmv2Error::io(format!("cannot create {}", opts.work_dir.display()), e))?;
        let mut ports: BTreeSet<u16> = opts.ports.clone();
        ports.extend(opts.inputs.keys().copied());
        let prepare = || -> Result<BTreeMap<u16, u64>> {
            let mut frames_in = BTreeMap::new();
            for &p in &ports {
                let dst = input_file(&opts.work_dir, p);
                let n = match opts.inputs.get(&p) {
                    Some(src) => pcap::normalize_input(src, &dst)?,
                    None => {
                        pcap::write_empty(&dst)?;
                        0
                    }
                };
                frames_in.insert(p, n);
                let out = output_file(&opts.work_dir, p);
                if out.exists() {
                    std::fs::remove_file(&out)
                        .map_err(|e| Bmv2Error::io(format!("cannot remove {}", out.display()), e))?;
                }
            }
            Ok(frames_in)
        };
        let frames_in = match prepare() {
            Ok(f) => f,
            Err(e) => {
                // Nothing ran yet: nothing to keep.
                let _ = std::fs::remove_dir_all(&opts.work_dir);
                return Err(e);
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut b = Bmv2 {
                child: None,
                binary: opts.binary.clone(),
                address: SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?)),
                work: opts.work_dir.clone(),
                ports: ports.iter().copied().collect(),
                frames_in: frames_in.clone(),
                window_s: opts.window_s,
                argv: Vec::new(),
            };
            let thrift = if probe.thrift { Some(free_port()?) } else { None };
            b.argv = b.command_args(opts, thrift);
            match b.start(opts.ready_timeout) {
                Ok(()) => return Ok(b),
                Err(e @ Bmv2Error::ExitedEarly { .. }) if attempt < 3 && is_bind_clash(&e.to_string()) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn command_args(&self, opts: &LaunchOptions, thrift: Option<u16>) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "--use-files".into(),
            opts.window_s.to_string().into(),
            "--device-id".into(),
            opts.device_id.to_string().into(),
            "--log-file".into(),
            self.log_file().into(),
            "--log-level".into(),
            opts.log_level.clone().into(),
            "--log-flush".into(),
        ];
        if let Some(t) = thrift {
            a.push("--thrift-port".into());
            a.push(t.to_string().into());
        }
        for &p in &self.ports {
            let mut spec = OsString::from(format!("{p}@"));
            spec.push(self.work.join(format!("p{p}")));
            a.push("-i".into());
            a.push(spec);
        }
        a.push("--no-p4".into());
        a.push("--".into());
        a.push("--grpc-server-addr".into());
        a.push(self.address.to_string().into());
        a
    }

    fn start(&mut self, ready_timeout: Duration) -> Result<()> {
        let out_path = self.out_file();
        let out = std::fs::File::create(&out_path)
            .map_err(|e| Bmv2Error::io(format!("cannot create {}", out_path.display()), e))?;
        let err = out.try_clone().map_err(|e| Bmv2Error::io(format!("cannot open {}", out_path.display()), e))?;
        let mut cmd = Command::new(&self.binary);
        cmd.args(&self.argv).current_dir(&self.work).stdin(Stdio::null()).stdout(out).stderr(err);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().map_err(|source| Bmv2Error::Spawn { binary: self.binary.clone(), source })?;
        self.child = Some(child);
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.exited()? {
                return Err(self.exited_early(status, "while starting"));
            }
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if t0.elapsed() >= ready_timeout {
                self.kill();
                return Err(Bmv2Error::NotReady {
                    address: self.address.to_string(),
                    waited: ready_timeout,
                    log: self.out_file(),
                    tail: self.log_tails(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `Some(status)` if the process has ended.
    fn exited(&mut self) -> Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            None => Ok(None),
            Some(c) => c.try_wait().map_err(|e| Bmv2Error::io("cannot check on BMv2", e)),
        }
    }

    fn exited_early(&mut self, status: ExitStatus, when: &str) -> Bmv2Error {
        self.child = None;
        Bmv2Error::ExitedEarly {
            status: status.to_string(),
            when: when.to_string(),
            log: self.out_file(),
            tail: self.log_tails(),
        }
    }

    /// The P4Runtime address (`127.0.0.1:G`).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        let mut s = self.binary.display().to_string();
        for a in &self.argv {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// The work directory.
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// The ports opened, ascending.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Frames in each port's input.
    pub fn frames_in(&self) -> &BTreeMap<u16, u64> {
        &self.frames_in
    }

    /// The `--use-files` window, seconds.
    pub fn window_s(&self) -> u32 {
        self.window_s
    }

    /// BMv2's standard output and error.
    pub fn out_file(&self) -> PathBuf {
        self.work.join("bmv2.out")
    }

    /// BMv2's `--log-file`.
    pub fn log_file(&self) -> PathBuf {
        self.work.join("bmv2.log")
    }

    /// The end of BMv2's output and log (older BMv2 builds append `.txt` to the log name).
    pub fn log_tails(&self) -> String {
        let mut parts = Vec::new();
        let out = tail(&self.out_file(), 15);
        if !out.is_empty() {
            parts.push(format!("  {}:\n{out}", self.out_file().display()));
        }
        for log in [self.log_file(), self.work.join("bmv2.log.txt")] {
            let t = tail(&log, 15);
            if !t.is_empty() {
                parts.push(format!("  {}:\n{t}", log.display()));
            }
        }
        if parts.is_empty() {
            "  (no output)".into()
        } else {
            parts.join("\n")
        }
    }

    /// When BMv2 starts reading its inputs at the latest, given when the
    /// pipeline was set at the latest (`SetForwardingPipelineConfig` returned).
    pub fn processing_start(&self, pipeline_set: Instant) -> Instant {
        pipeline_set + Duration::from_secs(u64::from(self.window_s))
    }

    /// Fails if the push (from the start of `SetForwardingPipelineConfig`, the
    /// earliest the window can have begun, to the last Write, `pushed`) did
    /// not fit in the window.
    pub fn check_window(&self, pipeline_set: Instant, pushed: Instant) -> Result<()> {
        let took = pushed.saturating_duration_since(pipeline_set);
        if took >= Duration::from_secs(u64::from(self.window_s)) {
            return Err(Bmv2Error::WindowMissed { took, window: self.window_s });
        }
        Ok(())
    }

    fn output_bytes(&self) -> u64 {
        self.ports.iter().map(|&p| pcap::size_of(&output_file(&self.work, p))).sum()
    }

    fn output_frames(&self) -> u64 {
        self.ports
            .iter()
            .map(|&p| pcap::read_output(&output_file(&self.work, p)).map_or(0, |f| f.records.len() as u64))
            .sum()
    }

    /// Waits until processing has started (`start`) and then until the output
    /// files have not grown for `quiet` (three times `quiet` while nothing at
    /// all has come out of a non-empty input, so a slow start is not taken
    /// for the end); fails if BMv2 exits meanwhile or the outputs keep growing
    /// `timeout` after `start`.
    pub fn wait_settled(&mut self, start: Instant, quiet: Duration, timeout: Duration) -> Result<Settled> {
        let poll = Duration::from_millis(50);
        while Instant::now() < start {
            if let Some(s) = self.exited()? {
                return Err(self.exited_early(s, "before processing its input files"));
            }
            std::thread::sleep(poll.min(start.saturating_duration_since(Instant::now())));
        }
        let initial = self.output_bytes();
        let input = self.frames_in.values().sum::<u64>() > 0;
        let mut last = initial;
        let mut last_change = Instant::now();
        loop {
            if let Some(s) = self.exited()? {
                return Err(self.exited_early(s, "while processing its input files"));
            }
            let now = Instant::now();
            let b = self.output_bytes();
            if b != last {
                last = b;
                last_change = now;
            }
            let needed = if input && b == initial { quiet * 3 } else { quiet };
            if now.duration_since(last_change) >= needed {
                return Ok(Settled { busy: last_change.saturating_duration_since(start), bytes: last });
            }
            if now.duration_since(start) >= timeout {
                return Err(Bmv2Error::Timeout { waited: timeout, frames: self.output_frames() });
            }
            std::thread::sleep(poll);
        }
    }

    /// Stops BMv2: SIGTERM, then SIGKILL after `grace`. Fails if it had
    /// already exited (it never does on its own).
    pub fn stop(&mut self, grace: Duration) -> Result<()> {
        if let Some(s) = self.exited()? {
            return Err(self.exited_early(s, "before it was stopped"));
        }
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let t0 = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if t0.elapsed() < grace => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
        self.child = None;
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Converts every port's output to `dir/port-<N>.pcap` (only ports that
    /// sent frames get a file, as with the software target; records keep
    /// BMv2's send time). Call after [`Bmv2::stop`].
    pub fn collect(&self, dir: &Path) -> Result<Vec<PortOutput>> {
        let mut out = Vec::new();
        for &p in &self.ports {
            let raw = output_file(&self.work, p);
            let f = pcap::read_output(&raw).map_err(|e| match e {
                Bmv2Error::Input { path, reason } => Bmv2Error::io(
                    format!("BMv2 output {}", path.display()),
                    std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
                ),
                e => e,
            })?;
            let frames = f.records.len() as u64;
            let bytes = f.records.iter().map(|r| r.data.len() as u64).sum();
            let path = if frames > 0 {
                let dst = collected_path(dir, p);
                pcap::write(&dst, f.records.iter().map(|r| (r.ts_ns, r.data.as_slice())))?;
                Some(dst)
            } else {
                None
            };
            out.push(PortOutput {
                port: p,
                frames,
                bytes,
                first_ts_ns: f.records.first().map(|r| r.ts_ns),
                last_ts_ns: f.records.last().map(|r| r.ts_ns),
                path,
            });
        }
        Ok(out)
    }

    /// Removes the work directory (unless `$P4CLONE_BMV2_KEEP` is set).
    pub fn cleanup(self) {
        if std::env::var_os(KEEP_ENV).is_none_or(|v| v.is_empty()) {
            let _ = std::fs::remove_dir_all(&self.work);
        }
    }
}

impl Drop for Bmv2 {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_follows_bmv2_option_rules() {
        let work = PathBuf::from("/tmp/w");
        let mut opts = LaunchOptions::new("/usr/bin/simple_switch_grpc".into(), 7, work.clone());
        opts.log_level = "warn".into();
        opts.window_s = 4;
        let b = Bmv2 {
            child: None,
            binary: opts.binary.clone(),
            address: "127.0.0.1:50001".parse().unwrap(),
            work: work.clone(),
            ports: vec![1, 2, 3],
            frames_in: BTreeMap::new(),
            window_s: 4,
            argv: Vec::new(),
        };
        let args: Vec<String> =
            b.command_args(&opts, Some(50002)).into_iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let line = args.join(" ");
        assert_eq!(
            line,
            "--use-files 4 --device-id 7 --log-file /tmp/w/bmv2.log --log-level warn --log-flush \
             --thrift-port 50002 -i 1@/tmp/w/p1 -i 2@/tmp/w/p2 -i 3@/tmp/w/p3 --no-p4 \
             -- --grpc-server-addr 127.0.0.1:50001"
        );
        // the target option comes after `--`, the general ones before it
        let sep = args.iter().position(|a| a == "--").unwrap();
        assert!(args[..sep].iter().all(|a| a != "--grpc-server-addr"));
        assert_eq!(input_file(&work, 2), PathBuf::from("/tmp/w/p2_in.pcap"));
        assert_eq!(output_file(&work, 2), PathBuf::from("/tmp/w/p2_out.pcap"));
        let no_thrift = b.command_args(&opts, None);
        assert!(!no_thrift.iter().any(|a| a == "--thrift-port"));
    }

    #[test]
    fn window_check() {
        let b = Bmv2 {
            child: None,
            binary: "x".into(),
            address: "127.0.0.1:1".parse().unwrap(),
            work: "/tmp".into(),
            ports: vec![],
            frames_in: BTreeMap::new(),
            window_s: 2,
            argv: Vec::new(),
        };
        let t = Instant::now();
        assert!(b.check_window(t, t + Duration::from_millis(1500)).is_ok());
        let e = b.check_window(t, t + Duration::from_millis(2500)).unwrap_err().to_string();
        assert!(e.contains("start-up window missed") && e.contains("--use-files 2"), "{e}");
        assert_eq!(b.processing_start(t), t + Duration::from_secs(2));
    }

    #[test]
    fn bind_clash_detection() {
        assert!(is_bind_clash("E0101 Address already in use"));
        assert!(!is_bind_clash("Error while parsing command line arguments"));
    }
}
